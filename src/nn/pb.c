/*
 * pb.c — bounded protobuf wire-format reader.
 *
 * A reader is a [p, end) window over a message. nn_pb_next() decodes one
 * key and its payload, never reading past `end`: varints are limited to 10
 * bytes, fixed-width values must fit in the remaining bytes, and a
 * length-delimited payload must fit in the remaining bytes before it is
 * returned. Groups (wire types 3 and 4, deprecated) are refused. Field
 * number 0 is invalid. Unknown fields are the caller's to skip: the payload
 * is already consumed when nn_pb_next returns.
 */
#include "nn/nn_int.h"

int nn_pb_varint(struct nn_pb *r, uint64_t *v) {
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end) return -1;
        uint8_t b = *r->p++;
        if (i == 9 && b > 1) return -1; /* more than 64 bits */
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

int nn_pb_next(struct nn_pb *r, struct nn_pb_field *f, struct pxs_err *err) {
    if (r->p >= r->end) return 0;
    uint64_t key;
    if (nn_pb_varint(r, &key) != 0) return PXS_CORRUPT_BKPT(err, "protobuf: bad field key");
    uint64_t num = key >> 3;
    if (num == 0 || num > 0x1fffffff) return PXS_CORRUPT_BKPT(err, "protobuf: bad field number");
    f->num = (uint32_t)num;
    f->wire = (int)(key & 7);
    f->v = 0;
    f->data = NULL;
    f->len = 0;
    size_t left;
    switch (f->wire) {
    case NN_PB_VARINT:
        if (nn_pb_varint(r, &f->v) != 0) return PXS_CORRUPT_BKPT(err, "protobuf: bad varint");
        return 1;
    case NN_PB_I64:
        left = (size_t)(r->end - r->p);
        if (left < 8) return PXS_CORRUPT_BKPT(err, "protobuf: truncated fixed64");
        for (int i = 7; i >= 0; i--) f->v = (f->v << 8) | r->p[i];
        r->p += 8;
        return 1;
    case NN_PB_I32:
        left = (size_t)(r->end - r->p);
        if (left < 4) return PXS_CORRUPT_BKPT(err, "protobuf: truncated fixed32");
        for (int i = 3; i >= 0; i--) f->v = (f->v << 8) | r->p[i];
        r->p += 4;
        return 1;
    case NN_PB_LEN: {
        uint64_t n;
        if (nn_pb_varint(r, &n) != 0) return PXS_CORRUPT_BKPT(err, "protobuf: bad length");
        left = (size_t)(r->end - r->p);
        if (n > left) return PXS_CORRUPT_BKPT(err, "protobuf: length past end of message");
        f->data = r->p;
        f->len = (size_t)n;
        r->p += n;
        return 1;
    }
    default:
        return PXS_CORRUPT_BKPT(err, "protobuf: unsupported wire type");
    }
}
