"""The four services of the complaint platform, and the runtime they share."""
