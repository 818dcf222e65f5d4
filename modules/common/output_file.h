/* Output files of the file-writing sinks (clip, thumbnail), compiled into
 * each of them: named by the `path` option's template, written under a
 * hidden temporary name in their final folder and renamed into place so
 * nobody sees them half-written, and recorded on the segment for the
 * record sinks that run afterwards. The sc_output_* functions return 0 or
 * an errno value unless they say otherwise. */
#ifndef STREAMCUT_MODULES_OUTPUT_FILE_H
#define STREAMCUT_MODULES_OUTPUT_FILE_H

#include <streamcut/streamcut.h>

#include "path_template.h"

#include <stddef.h>
#include <stdint.h>

/** What a file-writing sink keeps about its outputs. */
typedef struct sc_file_output {
    const sc_host_api *host;
    sc_ctx *ctx;
    sc_path_template *path_template;
    const char *attribute;         /**< the segment attribute naming the file ("file") */
    char *instance_attribute;      /**< "<attribute>.<instance name>" */
} sc_file_output;

/** Parses the instance's `path` option (accepting the optional
 * placeholders `optional`, sc_path_placeholder bits); files will be
 * recorded as `attribute` (a static string). Returns SC_OK, or an error
 * after logging why. */
int sc_file_output_init(sc_file_output *out, const sc_host_api *host, sc_ctx *ctx,
                        const char *attribute, unsigned optional);
/** Creates the template's base folder (the last step of a sink's create). */
int sc_file_output_make_base(sc_file_output *out);
void sc_file_output_release(sc_file_output *out);

/** The path of `segment`'s file number `number` ({n}). A path that would
 * leave the base folder is refused: SC_ERR_INVALID, logged and counted
 * (paths_rejected). */
int sc_file_output_path(sc_file_output *out, const sc_segment *segment, uint64_t number,
                        char *path, size_t length);
/** Creates the folder of `final_path` and the temporary file to write it
 * under (its name left in temp_path). Returns the descriptor, or a
 * negative sc_status after logging why. */
int sc_file_output_open_temp(sc_file_output *out, const char *final_path, char *temp_path,
                             size_t length);
/** Records the file on the segment as <attribute> and <attribute>.<instance>. */
void sc_file_output_record(sc_file_output *out, const sc_segment *segment, const char *final_path);

/** mkdir -p with mode 0755. */
int sc_output_make_folders(const char *path);

/** Creates the folder `final_path` goes in; that folder's name is left in
 * `folder` (for messages). */
int sc_output_make_parent_folder(const char *final_path, char *folder, size_t folder_length);

/** Creates the hidden temporary file for `final_path` in the same folder
 * (mode 0644, close-on-exec) and leaves its name in `temp_path`. Returns the
 * descriptor, or -1 with errno set (ENAMETOOLONG: no room for the name). */
int sc_output_open_temp(const char *final_path, char *temp_path, size_t temp_length);

/** write() until everything is written. */
int sc_output_write_all(int fd, const uint8_t *data, size_t size);

/** Moves the finished temporary file into place. With `overwrite` unset an
 * existing file is kept and EEXIST returned. */
int sc_output_publish(const char *temp_path, const char *final_path, int overwrite);

/** Whether anything (even a dangling link) has that name. */
int sc_output_exists(const char *path);

#endif
