"""Which folder a file dialog opens in: the one used last, else a folder of the user's.

One rule for the app's remembered folders (the code directory of New, the export
folder): never the folder the program happened to be started from.
"""

from __future__ import annotations

from pathlib import Path


def home_folder() -> Path:
    """The user's home folder."""
    return Path.home()


def documents_folder() -> Path:
    """The user's ``Documents`` folder, or the home folder where there is none."""
    documents = home_folder() / "Documents"
    return documents if documents.is_dir() else home_folder()


def remembered_folder(last: object, fallback: Path) -> Path:
    """``last`` (a remembered setting, any type) when it names an existing folder,
    else ``fallback``."""
    if isinstance(last, str) and last:
        folder = Path(last).expanduser()
        try:
            if folder.is_absolute() and folder.is_dir():
                return folder
        except OSError:  # a name the file system refuses
            pass
    return fallback
