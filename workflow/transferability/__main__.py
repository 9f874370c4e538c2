import sys

from .cli import main
from .home import use_writable_matplotlib_folder

if note := use_writable_matplotlib_folder():
    print(note, file=sys.stderr)
sys.exit(main())
