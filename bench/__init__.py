"""``make bench``: the system measured against the machine's own limits, side by side."""
