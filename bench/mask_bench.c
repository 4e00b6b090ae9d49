/*
 * mask_bench.c - websocket masking speed against memcpy on the same
 * buffer (bench/run prints both).  Links the internal ws_mask().
 *
 *   mask_bench MIB ROUNDS     prints "mask GB/s memcpy GB/s"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ws_frame.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	int rounds = argc > 2 ? atoi(argv[2]) : 20;
	size_t len = mib << 20;
	const uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };
	unsigned char *a = malloc(len), *b = malloc(len);
	double t0, mask_s, copy_s;
	unsigned sum = 0;

	if (!a || !b)
		return 1;
	memset(a, 1, len);
	memset(b, 2, len);
	t0 = now_s();
	for (int r = 0; r < rounds; r++)
		ws_mask(a, len, key, (uint64_t)r);
	mask_s = now_s() - t0;
	t0 = now_s();
	for (int r = 0; r < rounds; r++) {
		memcpy(r & 1 ? a : b, r & 1 ? b : a, len);
		sum += a[r];	/* keep the copies observable */
	}
	copy_s = now_s() - t0;
	printf("mask %.2f memcpy %.2f %u\n",
	       (double)len * rounds / 1e9 / mask_s,
	       (double)len * rounds / 1e9 / copy_s, sum & 1);
	free(a);
	free(b);
	return 0;
}
