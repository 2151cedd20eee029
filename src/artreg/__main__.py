from __future__ import annotations

from artreg.cli import main

raise SystemExit(main())
