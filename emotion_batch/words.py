"""Counts in the user's words: `plural(1, "video")` is "1 video", `plural(3, "video")` "3 videos"."""


def plural(n: int, word: str, many: str | None = None) -> str:
    """`n` and the word, in the plural unless n is 1 (`many` for an irregular plural)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
