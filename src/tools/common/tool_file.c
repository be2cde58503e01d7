/*
 * tool_file.c - open an input that must be a regular file (tool_file.h).
 */
#include "tool_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tool_file_kind(mode_t m)
{
	return S_ISDIR(m)    ? "a directory"
	       : S_ISCHR(m)  ? "a character device"
	       : S_ISBLK(m)  ? "a block device"
	       : S_ISFIFO(m) ? "a FIFO"
	       : S_ISSOCK(m) ? "a socket"
	       : S_ISREG(m)  ? "a regular file"
	                     : "not a regular file";
}

int tool_open_regular(const char *path, const char **kind, off_t *size)
{
	struct stat st;
	int rc = 0;
	/* O_NONBLOCK: opening a FIFO with no writer must not wait; cleared
	 * once the file is known to be regular. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (kind)
		*kind = NULL;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		if (kind)
			*kind = tool_file_kind(st.st_mode);
	} else if (fcntl(fd, F_SETFL, 0) != 0) {
		rc = -errno;
	}
	if (rc) {
		close(fd);
		return rc;
	}
	if (size)
		*size = st.st_size;
	return fd;
}
