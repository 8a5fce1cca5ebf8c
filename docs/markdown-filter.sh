#!/bin/sh
# SPDX-License-Identifier: MIT
# Doxygen input filter for README.md (docs/Doxyfile, FILTER_PATTERNS).
# Doxygen 1.9 reads a backslash inside a table cell's `code` as a command
# (`'b\na\n'` -> "unknown command \na"); GitHub does not. Doubling such
# backslashes on table rows gives the same text in both. The README itself
# is not changed.
exec sed -e '/^|/s/\\\([A-Za-z]\)/\\\\\1/g' "$1"
