// SPDX-License-Identifier: GPL-2.0
/* A file that checkpatch must reject: make lint checks that it does. */
int  lint_bad ( int x ) {
	return x+1 ;
}
