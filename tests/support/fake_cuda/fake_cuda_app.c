/* Runs the test workload (fake_cuda_workload.c): built with FL_LINKED, linked against it (and so
 * against the fake cuBLAS libraries); without, `fake_cuda_app_dlopen PATH` loads it with
 * dlopen(RTLD_LOCAL), which leaves the fake cuBLAS libraries outside the global scope, where
 * dlsym(RTLD_NEXT) cannot find them. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fl_cuda_workload(void);

#ifdef FL_LINKED
int fl_cuda_graph_workload(int replays);

/* `fake_cuda_app_linked` runs the entry points; `fake_cuda_app_linked graph N` the CUDA Graphs
 * workload with N launches. */
int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "graph") == 0) return fl_cuda_graph_workload(atoi(argv[2]));
  return fl_cuda_workload();
}
#else
int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s WORKLOAD_LIBRARY\n", argv[0]);
    return 2;
  }
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
    return 2;
  }
  int (*workload)(void) = (int (*)(void))dlsym(lib, "fl_cuda_workload");
  if (workload == NULL) return 2;
  return workload();
}
#endif
