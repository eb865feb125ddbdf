"""dockyard: container images for Hugging Face Transformers on every accelerator, built and proven."""

__version__ = "0.1.0"
