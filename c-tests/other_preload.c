/* A second preloaded library for the KASHIM_CHILDREN=0 test: it only has to be there. */
int kashim_test_other_preload_marker(void) { return 42; }
