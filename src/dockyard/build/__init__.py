"""Drive a real container engine: detect it, prepare the context, build, report."""
