"""What each page of the report shows (index, video, persons) and how it is rendered."""
