/* `streamcut new-module NAME KIND`: the skeleton of an out-of-tree module. */
#ifndef SC_HOST_NEW_MODULE_H
#define SC_HOST_NEW_MODULE_H

/** One file of sdk/template/, compiled in (see sdk/template/embed). */
typedef struct sc_template_file {
    const char *name;   /* NULL ends the table */
    const char *text;
} sc_template_file;

extern const sc_template_file sc_template_files[];

/** Write folder NAME (in the current directory) with the skeleton of a
 * module of KIND (source, strategy, sink or observer): NAME.c, Makefile,
 * README.md, pipeline.ini. Returns the exit status: 0, 1 when writing
 * failed, 2 for a bad name or kind or an existing NAME. */
int sc_new_module(const char *name, const char *kind);

#endif
