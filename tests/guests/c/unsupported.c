/* Imports functions no runtime here provides (and a known one with a signature nobody uses). */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("sock_frobnicate"))) int frob(int);
__attribute__((import_module("env"), import_name("magic_number"))) int magic(void);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("sock_accept"))) int bad_accept(int, int, int, int);
int main(void) { return frob(magic()) + bad_accept(1, 2, 3, 4); }
