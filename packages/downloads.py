"""Placeholder: download counts (replaced wholesale by its owner)."""


def download_summary(project) -> dict[str, int]:
    """Downloads of ``project``'s files: last day, week and month."""
    return {"last_day": -1, "last_week": -1, "last_month": -1}
