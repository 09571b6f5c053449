from orgtune.cli import main

raise SystemExit(main())
