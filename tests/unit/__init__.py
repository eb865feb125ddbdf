"""Makes tests/unit a package so its modules do not clash with same-named ones in tests/unit/lint (test_fuzz)."""
