"""Channel simulators: realistic complaints from the hotline, the owners' app and the
supervision line, sent through intake's real adapters (``python -m services.simulator``)."""
