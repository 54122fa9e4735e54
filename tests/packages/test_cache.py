import multiprocessing

from django.core.cache import cache

from packages.cache import purge_project, simple_detail_key, simple_index_key


def test_purge_deletes_both_formats_and_the_index():
    keys = [simple_detail_key("demo", "html"), simple_detail_key("demo", "json")]
    keys += [simple_index_key("html"), simple_index_key("json"), simple_detail_key("other", "html")]
    for key in keys:
        cache.set(key, "page")
    purge_project("demo")
    assert [cache.get(key) for key in keys] == [None, None, None, None, "page"]


def test_a_purge_in_another_worker_process_reaches_this_one():
    # gunicorn's workers are forked processes: the page this one cached must
    # be gone once another worker purged it (the embedded default included).
    cache.set(simple_detail_key("demo", "html"), "page")
    other_worker = multiprocessing.get_context("fork").Process(target=purge_project, args=("demo",))
    other_worker.start()
    other_worker.join(30)
    assert other_worker.exitcode == 0
    assert cache.get(simple_detail_key("demo", "html")) is None
