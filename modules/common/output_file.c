/* Output files of the file-writing sinks (see output_file.h). */
#include "output_file.h"

#include <errno.h>
#include <inttypes.h>
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

int sc_file_output_init(sc_file_output *out, const sc_host_api *host, sc_ctx *ctx,
                        const char *attribute, unsigned optional)
{
    memset(out, 0, sizeof(*out));
    out->host = host;
    out->ctx = ctx;
    out->attribute = attribute;
    const char *template_text = host->option_string(ctx, "path");
    char error[512];
    out->path_template = sc_path_template_parse(template_text, optional, error, sizeof(error));
    if (out->path_template == NULL) {
        host->log(ctx, SC_LOG_ERROR, "path = %s: %s", template_text ? template_text : "(unset)",
                  error);
        return SC_ERR_INVALID;
    }
    const char *name = host->instance_name(ctx);
    if (name == NULL)
        name = "unnamed";
    size_t length = strlen(attribute) + 1 + strlen(name) + 1;
    out->instance_attribute = malloc(length);
    if (out->instance_attribute == NULL)
        return SC_ERR_NOMEM;
    snprintf(out->instance_attribute, length, "%s.%s", attribute, name);
    return SC_OK;
}

int sc_file_output_make_base(sc_file_output *out)
{
    const char *base = sc_path_template_base(out->path_template);
    int error = sc_output_make_folders(base);
    if (error != 0) {
        out->host->log(out->ctx, SC_LOG_ERROR, "cannot create the base folder %s: %s", base,
                       strerror(error));
        return SC_ERR_IO;
    }
    return SC_OK;
}

void sc_file_output_release(sc_file_output *out)
{
    sc_path_template_free(out->path_template);
    free(out->instance_attribute);
    out->path_template = NULL;
    out->instance_attribute = NULL;
}

int sc_file_output_path(sc_file_output *out, const sc_segment *segment, uint64_t number,
                        char *path, size_t length)
{
    sc_path_fields fields = {
        .source = segment->source,
        .strategy = segment->strategy,
        .index = segment->index,
        .start = segment->start,
        .end = segment->end,
        .label = segment->label,
        .number = number,
    };
    char error[512];
    if (sc_path_template_expand(out->path_template, &fields, path, length, error,
                                sizeof(error)) == 0)
        return SC_OK;
    out->host->log(out->ctx, SC_LOG_ERROR, "segment %" PRIu64 " of %s: refusing to write: %s",
                   segment->index, segment->strategy ? segment->strategy : "?", error);
    out->host->counter_add(out->ctx, "paths_rejected", 1);
    return SC_ERR_INVALID;
}

int sc_file_output_open_temp(sc_file_output *out, const char *final_path, char *temp_path,
                             size_t length)
{
    char folder[PATH_MAX];
    int error = sc_output_make_parent_folder(final_path, folder, sizeof(folder));
    if (error != 0) {
        out->host->log(out->ctx, SC_LOG_ERROR, "%s: cannot create folder %s: %s", final_path,
                       folder, strerror(error));
        return SC_ERR_IO;
    }
    int fd = sc_output_open_temp(final_path, temp_path, length);
    if (fd < 0) {
        error = errno;
        out->host->log(out->ctx, SC_LOG_ERROR, "%s: cannot create a temporary file: %s",
                       final_path, strerror(error));
        return error == ENAMETOOLONG ? SC_ERR_INVALID : SC_ERR_IO;
    }
    return fd;
}

void sc_file_output_record(sc_file_output *out, const sc_segment *segment, const char *final_path)
{
    if (out->host->segment_set_attr(out->ctx, segment, out->attribute, final_path) < 0 ||
        out->host->segment_set_attr(out->ctx, segment, out->instance_attribute, final_path) < 0)
        out->host->log(out->ctx, SC_LOG_WARNING, "%s: cannot record the file on the segment",
                       final_path);
}
