/* null-preload: an LD_PRELOAD library that does nothing, for scripts/bench.sh. Its start-up cost is
 * the floor of preloading any library at all (open, map, relocate), which kashim is compared with. */
int kashim_bench_null_preload;
