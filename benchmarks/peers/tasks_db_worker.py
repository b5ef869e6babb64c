"""django-tasks-db's worker loop in 8 threads of one process: its `db_worker` command runs one task at a time.

Each thread runs the command's own ``Worker`` with the command's defaults (a poll every second while the queue
is empty, a random start-up delay), under a worker id of its own; SIGTERM ends the process.
"""

import os
import threading

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")


def main() -> None:
    django.setup()
    from django.utils.crypto import get_random_string
    from django_tasks_db.management.commands.db_worker import Worker

    from benchmarks import processes
    from benchmarks.peers.tasks_db_app import BACKEND

    process = get_random_string(16)
    loops = [
        Worker(
            queue_names=["default"],
            interval=1,
            batch=False,
            backend_name=BACKEND,
            startup_delay=True,
            max_tasks=None,
            worker_id=f"{process}-{index}",
            excluded_queue_names=[],
        )
        for index in range(processes.CONCURRENCY)
    ]
    threads = [threading.Thread(target=loop.run, name=f"db-worker-{index}") for index, loop in enumerate(loops)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
