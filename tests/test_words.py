from emotion_batch.words import plural


def test_plural_counts_in_words():
    assert plural(1, "video") == "1 video"
    assert plural(0, "video") == "0 videos"
    assert plural(3, "face track") == "3 face tracks"
    assert plural(2, "video or part", "videos or parts") == "2 videos or parts"
