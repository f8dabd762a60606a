/*
 * ops_int.h — helpers shared by the operator files (ops.c, conv.c,
 * pool_ops.c): error formatting that names the node, output shape setting,
 * axis normalisation and reading plan-time constant inputs.
 */
#ifndef PIXSEEK_NN_OPS_INT_H
#define PIXSEEK_NN_OPS_INT_H

#include <stdarg.h>
#include <stdio.h>

#include "nn/nn_int.h"

/* "<op> node '<name>': <msg>" with code. */
int nn_node_err(struct pxs_err *err, int code, const struct nn_node *n, const char *fmt, ...)
    PXS_PRINTF(4, 5);
int nn_set_out(struct nn_tensor *o, int dtype, const struct nn_shape *s);
int nn_norm_axis(int64_t axis, int rank, int *out);
int nn_extra_outputs_used(const struct pxs_nn_model *m, const struct nn_node *n, int first);
int nn_need_inputs(const struct nn_node *n, const struct nn_tensor *in, int lo, int hi,
                   struct pxs_err *err);
int nn_const_ints(const struct nn_node *n, const struct nn_tensor *t, int64_t *out, int max,
                  int *count, struct pxs_err *err);
int nn_clip_bounds(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                   float *lo, float *hi, struct pxs_err *err);
int nn_broadcast_shape(const struct nn_shape *a, const struct nn_shape *b, struct nn_shape *o);
const struct nn_op *nn_op_find_heavy(const char *name);
extern const struct nn_op nn_pool_ops[];
extern const size_t nn_pool_ops_count;
/* Window geometry shared by Conv and the pools (2-D): strides, dilations,
 * pads [top, left, bottom, right] (explicit or auto_pad) and output size;
 * ceil_mode follows PyTorch (the last window must start inside the input
 * or its leading padding). */
int nn_window_params(const struct nn_node *n, int64_t H, int64_t W, int64_t KH, int64_t KW, int ceil_mode,
                     int64_t *sh, int64_t *sw, int64_t *dh, int64_t *dw, int64_t pads[4], int64_t *OH,
                     int64_t *OW, struct pxs_err *err);

#endif
