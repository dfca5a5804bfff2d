"""The Celery side: the app, per-process runtime, lifecycle signals and tasks."""
