"""What the processes of one tree share: the frames on the queue's pipe, the shared
counters file, the attach address, the ownership checks on those paths, and the removal of
what a killed tree left behind. Imported by both the application and the listener."""
