from jobnode.cli import main

raise SystemExit(main())
