/*
 * tool_file.h - open an input that must be a regular file.
 *
 * Configs, rules, checkpoints and CSV input are read whole or line by
 * line: a directory would read as empty (a valid config!) or fail late
 * with a bare EISDIR, a device such as /dev/zero would never end, and a
 * FIFO with no writer would block the open itself. Every tool refuses
 * them the same way, naming what the path is.
 */
#ifndef SHMBUS_TOOL_FILE_H
#define SHMBUS_TOOL_FILE_H

#include <sys/types.h>

/* What a file of mode m is, for a message refusing it: "a directory",
 * "a FIFO", "a character device" ... */
const char *tool_file_kind(mode_t m);

/*
 * Open path read-only (O_CLOEXEC) if it is a regular file. Returns the
 * descriptor (blocking mode), or -errno: -EISDIR for a directory, -EINVAL
 * for any other file that is not regular, with *kind (when kind is not
 * NULL) set to tool_file_kind() of it, else to NULL. *size (when not
 * NULL) gets the file's size.
 */
int tool_open_regular(const char *path, const char **kind, off_t *size);

#endif
