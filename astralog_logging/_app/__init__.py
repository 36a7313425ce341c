"""The application process, off the caller's thread: the link to a listener (start, attach,
restart), the channel that writes frames, exit and signal hooks, the console writer, and
``init_worker``. Nothing here imports ``_listener`` except the in-process fallback in
``_owner`` (a listener run as threads where no process can be started)."""
