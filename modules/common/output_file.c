/* Atomic output files (see output_file.h). */
#include "output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

int sc_output_make_folders(const char *path)
{
    char partial[PATH_MAX];
    size_t length = strlen(path);
    if (length == 0)
        return 0;
    if (length >= sizeof(partial))
        return ENAMETOOLONG;
    memcpy(partial, path, length + 1);
    for (size_t i = 1; i <= length; i++) {
        if (partial[i] != '/' && partial[i] != '\0')
            continue;
        char saved = partial[i];
        partial[i] = '\0';
        if (mkdir(partial, 0755) != 0 && errno != EEXIST)
            return errno;
        partial[i] = saved;
    }
    struct stat info;
    if (stat(path, &info) != 0)
        return errno;
    return S_ISDIR(info.st_mode) ? 0 : ENOTDIR;
}

int sc_output_make_parent_folder(const char *final_path, char *folder, size_t folder_length)
{
    if (folder_length == 0)
        return EINVAL;
    if ((size_t)snprintf(folder, folder_length, "%s", final_path) >= folder_length)
        return ENAMETOOLONG;
    char *last_slash = strrchr(folder, '/');
    if (last_slash == NULL) {
        snprintf(folder, folder_length, ".");
        return 0;
    }
    if (last_slash == folder)
        last_slash[1] = '\0';
    else
        *last_slash = '\0';
    return sc_output_make_folders(folder);
}

/* "dir/.name.tmp-XXXXXX" for mkostemp, kept within NAME_MAX. */
static int temp_path_for(const char *final_path, char *out, size_t outlen)
{
    const char *slash = strrchr(final_path, '/');
    size_t folder_length = slash ? (size_t)(slash - final_path + 1) : 0;
    const char *name = final_path + folder_length;
    int name_length = (int)strlen(name);
    const int room = NAME_MAX - (int)strlen("..tmp-XXXXXX");
    if (name_length > room)
        name_length = room;
    int written = snprintf(out, outlen, "%.*s.%.*s.tmp-XXXXXX", (int)folder_length, final_path,
                           name_length, name);
    return written > 0 && (size_t)written < outlen ? 0 : -1;
}

int sc_output_open_temp(const char *final_path, char *temp_path, size_t temp_length)
{
    if (temp_path_for(final_path, temp_path, temp_length) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = mkostemp(temp_path, O_CLOEXEC);
    if (fd < 0)
        return -1;
    /* mkostemp makes 0600; outputs are meant to be shared like any file. */
    fchmod(fd, 0644);
    return fd;
}

int sc_output_write_all(int fd, const uint8_t *data, size_t size)
{
    while (size > 0) {
        ssize_t written = write(fd, data, size);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (written == 0)
            return EIO;
        data += written;
        size -= (size_t)written;
    }
    return 0;
}

int sc_output_publish(const char *temp_path, const char *final_path, int overwrite)
{
    if (overwrite)
        return rename(temp_path, final_path) == 0 ? 0 : errno;
    if (renameat2(AT_FDCWD, temp_path, AT_FDCWD, final_path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return errno;
    /* Filesystems without RENAME_NOREPLACE: link() also refuses existing names. */
    if (link(temp_path, final_path) != 0)
        return errno;
    unlink(temp_path);
    return 0;
}

int sc_output_exists(const char *path)
{
    struct stat info;
    return lstat(path, &info) == 0;
}
