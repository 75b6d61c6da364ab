// A WASI command that allocates from its own code paths: a linked list of
// strdup-ed strings, a string grown by realloc, a calloc-ed table. pyfrag's
// recording tests instrument it and check its recording against `dlmalloc`.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; char *text; };
int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200;
  struct node *head = 0;
  for (int i = 0; i < n; i++) {
    struct node *x = malloc(sizeof *x);
    char buf[64]; int len = snprintf(buf, sizeof buf, "item-%d-%s", i, i % 3 ? "short" : "a-longer-string");
    x->text = strdup(buf); x->next = head; head = x; (void)len;
    if (i % 7 == 0) { struct node *d = head; head = d->next; free(d->text); free(d); }
  }
  char *s = 0; size_t cap = 0, used = 0;
  for (struct node *x = head; x; x = x->next) {
    size_t l = strlen(x->text);
    if (used + l + 1 > cap) { cap = cap ? cap * 2 : 16; s = realloc(s, cap); }
    memcpy(s + used, x->text, l); used += l; s[used] = 0;
  }
  int *counts = calloc(256, sizeof *counts);
  for (size_t i = 0; i < used; i++) counts[(unsigned char)s[i]]++;
  unsigned long sum = 0;
  for (int i = 0; i < 256; i++) sum = sum * 31 + counts[i];
  printf("%d nodes' text: %zu bytes, checksum %lu\n", n, used, sum);
  while (head) { struct node *d = head; head = d->next; free(d->text); free(d); }
  free(s); free(counts);
  return 0;
}
