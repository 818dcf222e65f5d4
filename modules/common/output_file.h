/* Writing output files so that nobody sees them half-written: each file is
 * written under a hidden temporary name in its final folder, then renamed
 * into place. Shared by the file-writing sinks (clip, thumbnail); compiled
 * into each of them. Functions return 0 or an errno value unless they say
 * otherwise. */
#ifndef STREAMCUT_MODULES_OUTPUT_FILE_H
#define STREAMCUT_MODULES_OUTPUT_FILE_H

#include <stddef.h>
#include <stdint.h>

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
