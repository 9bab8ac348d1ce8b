"""Imported first, and only, by the rebuild lanes' fork server (``services.runtime.lanes``):
it lowers that process's scheduling priority (``nice`` +10), and with it the priority of every
lane forked from it.

The fork server imports the service's modules when the service starts (about a second of
CPU); at normal priority that burst competed with the first requests the service answers. A
lane at lower priority gives way to the live service, to its readers and to PostgreSQL
whenever they want a core, and takes every core nobody else wants: on an idle machine a
rebuild is as fast, on a busy one it is gentler on the live answers.
"""

from __future__ import annotations

import os

LANE_NICE = 10

os.nice(LANE_NICE)
