"""``python -m deploy.local.infra up|down|reset|status|env``."""

import sys

from deploy.local.infra import _main

sys.exit(_main())
