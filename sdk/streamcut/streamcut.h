/* streamcut module SDK: include this one header to write a module. */
#ifndef STREAMCUT_STREAMCUT_H
#define STREAMCUT_STREAMCUT_H

#include "abi.h"
#include "packet.h"
#include "segment.h"
#include "event.h"
#include "options.h"
#include "host.h"
#include "module.h"
#include "helpers.h"

#endif /* STREAMCUT_STREAMCUT_H */
