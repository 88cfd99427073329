"""Text of the server form's fields to profile values and back, and which field a
profile problem is about. No Qt here."""

from __future__ import annotations

_FIELD_OF = (("the name", "name"), ("name", "name"), ("host", "host"), ("user", "user"),
             ("port", "port"), ("auth", "key_file"), ("key file", "key_file"),
             ("workdir", "workdir"), ("max parallel", "max_parallel"),
             ("trials per gpu", "trials_per_gpu"), ("gpu", "gpus"), ("python", "python"),
             ("setup", "setup"), ("allow busy", "allow_busy_gpus"))


def parse_gpus(text: str) -> tuple[int, ...] | None:
    """The GPUs field: blank is every GPU (None), ``none`` is no GPU, else ``0, 2``.

    Raises:
        ValueError: a word that is not an index, or an index given twice.
    """
    words = [word for word in text.replace(",", " ").split() if word]
    if not words:
        return None
    if len(words) == 1 and words[0].lower() == "none":
        return ()
    indices: list[int] = []
    for word in words:
        if not (word.isascii() and word.isdigit()):
            raise ValueError(f"{word!r} is not a GPU index; write indices such as 0, 1, "
                             "leave it empty for every GPU, or write none")
        if int(word) in indices:
            raise ValueError(f"GPU {int(word)} is listed twice")
        indices.append(int(word))
    return tuple(indices)


def gpus_text(gpus: tuple[int, ...] | None) -> str:
    """The GPUs field's text for a profile's ``gpus``."""
    if gpus is None:
        return ""
    return ", ".join(str(index) for index in gpus) if gpus else "none"


def field_of(problem: str) -> str:
    """The key of the form field a profile problem names (``general`` when none)."""
    lowered = problem.lower()
    for start, key in _FIELD_OF:
        if lowered.startswith(start):
            return key
    return "general"
