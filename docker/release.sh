#!/bin/sh
# The release step: run once per deployment, before any app server starts
# (compose's "release" service; on other platforms, their release or pre-deploy
# hook). Each part may be run again and does nothing the second time. migrate
# also takes a lock of its own (common/migration_lock.py), so machines that
# run it at start-up regardless wait for each other instead of failing.
set -eu

python manage.py migrate --noinput
# The S3 bucket the files go to; uploads answer 503 until it exists.
python manage.py create_bucket
# The first administrator, from DJANGO_SUPERUSER_USERNAME, _EMAIL and _PASSWORD.
if [ -n "${DJANGO_SUPERUSER_USERNAME:-}" ]; then
    if ! out=$(python manage.py createsuperuser --noinput 2>&1); then
        case $out in
        *"already taken"*) echo "The superuser $DJANGO_SUPERUSER_USERNAME exists already." ;;
        *) printf '%s\n' "$out" >&2; exit 1 ;;
        esac
    else
        printf '%s\n' "$out"
    fi
fi
