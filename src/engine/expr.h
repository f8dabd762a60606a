/*
 * expr.h — Milvus-compatible boolean filter expressions: parse a filter
 * string, bind it to a collection schema (name resolution, type checks,
 * constant folding) and evaluate it on rows the engine reads through a
 * callback. Private to the engine (src/engine/ only).
 *
 *   struct expr *e;
 *   if (expr_compile("price * 2 > 100 and tags[0] like 'cat%'", SIZE_MAX, &schema,
 *                    &e, err) != PXS_OK) ...              // PXS_EINVAL + message
 *   bool hit;
 *   expr_eval(e, &access, row, &hit, err);
 *   expr_free(e);
 *
 * Grammar (precedence from loosest to tightest; Milvus boolean.md / Plan.g4):
 *
 *   expr    := or
 *   or      := and { ("or" | "OR" | "||") and }
 *   and     := not { ("and" | "AND" | "&&") not }
 *   not     := ("not" | "NOT" | "!") not | eq
 *   eq      := rel [ ("==" | "!=") rel ]
 *   rel     := sum [ ("<"|"<="|">"|">=") sum [ same-direction op sum ] ]   chained range
 *            | sum ["not"] "in" sum | sum "like" STRING
 *            | sum "is" ["not"] "null"
 *   sum     := prod { ("+" | "-") prod }
 *   prod    := unary { ("*" | "/" | "%") unary }
 *   unary   := ("+" | "-") unary | pow
 *   pow     := primary { "**" ("+"|"-")* primary }          left-assoc, as in Milvus
 *   primary := INT | FLOAT | STRING | true | false | "[" [expr {"," expr} [","]] "]"
 *            | "(" expr ")" | FUNC "(" args ")"
 *            | (IDENT | "$meta") { "[" (STRING | INT) "]" }
 *
 * Keywords are accepted in lower case and upper case (and True/False).
 * Integers: decimal, 0x hex, 0b binary, leading-0 octal (as Milvus).
 * Strings: "..." or '...' with C/Go escapes (\n \t \\ \" \' \xHH \ooo
 * \uHHHH \UHHHHHHHH); "\%" and "\_" are kept as escaped wildcards for like.
 * Functions: json_contains(f, v), json_contains_all(f, [..]),
 * json_contains_any(f, [..]), array_contains / _all / _any (same, also on
 * JSON), array_length(f). An empty (all blank) expression is "true".
 *
 * Deviation from Milvus: "not" binds looser than comparisons, so
 * `not a == 1` is `not (a == 1)` (Milvus parses `(not a) == 1` and rejects
 * it). Everything Milvus accepts means the same here; some things Milvus
 * rejects are accepted (constants on both sides of and/or, arithmetic on
 * both sides of a comparison, field-vs-field arithmetic).
 *
 * Semantics (per row), following Milvus 2.5:
 *   - SQL three-valued logic: a comparison, like, in or function on a NULL
 *     field value is "unknown"; not/and/or are Kleene; a row matches only if
 *     the whole expression is true. `is null` / `is not null` are never
 *     unknown. (So `nullable_f != 3` and `not (nullable_f > 3)` skip nulls.)
 *   - JSON paths: a missing key, an index out of range or a value of the
 *     wrong type makes ==, <, <=, >, >=, like, in false and != true (Milvus
 *     UnaryRangeJSONCompareNotEqual). A null JSON column is unknown.
 *     `f["k"] is null` is true for a null column, a missing key or a JSON null.
 *   - Numbers: int and float compare by value (exactly, no rounding of large
 *     int64). Comparisons of a FLOAT (float32) field with a constant round
 *     the constant to float32, as Milvus does. Integer arithmetic wraps
 *     (two's complement); x / 0 and x % 0 on row values give "no value"
 *     (comparison false); `**` always gives a double.
 *   - like: anchored full match, % = any run, _ = one UTF-8 character,
 *     \% \_ \\ match the literal character.
 *   - in: true if equal to any element; `in []` is false.
 *   - json_contains_all(f, []) is true when f is an array.
 *
 * Limits (PXS_ELIMIT with a message): expression length EXPR_MAX_LEN bytes,
 * nesting (parentheses, brackets, unary operators) EXPR_MAX_DEPTH, tree
 * height EXPR_MAX_HEIGHT, EXPR_MAX_ARRAY elements per array literal,
 * EXPR_MAX_FIELDS distinct fields per expression.
 *
 * Errors: syntax errors and type errors are PXS_EINVAL with a message like
 * "syntax error at position 9: expected a value after '==', found end of
 * input". Positions are 0-based byte offsets into the expression text.
 *
 * Threads: a compiled expression is immutable; any number of threads may
 * call expr_eval on it at once (all evaluation state is on the stack).
 */
#ifndef PIXSEEK_ENGINE_EXPR_H
#define PIXSEEK_ENGINE_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pixseek/core.h"

struct cJSON;

#define EXPR_MAX_LEN (64u * 1024u) /* bytes of expression text */
#define EXPR_MAX_DEPTH 64          /* nesting of ( [ unary not */
#define EXPR_MAX_HEIGHT 256        /* syntax tree height (long a+b+c+... chains) */
#define EXPR_MAX_ARRAY 16384       /* elements of one array literal */
#define EXPR_MAX_FIELDS 64         /* distinct schema fields one expression reads */

/* ---- schema ----------------------------------------------------------- */

enum expr_ftype {
    EXPR_BOOL = 1,
    EXPR_INT8,
    EXPR_INT16,
    EXPR_INT32,
    EXPR_INT64,
    EXPR_FLOAT, /* float32: constants are rounded to float32 when compared */
    EXPR_DOUBLE,
    EXPR_VARCHAR,
    EXPR_JSON,
    EXPR_ARRAY, /* elements of elem_type (scalar, not JSON/ARRAY) */
};

struct expr_field {
    const char *name; /* [A-Za-z_][A-Za-z0-9_]* to be addressable */
    enum expr_ftype type;
    enum expr_ftype elem_type; /* EXPR_ARRAY only */
    bool nullable;             /* informational: NULL values are handled either way */
};

struct expr_schema {
    const struct expr_field *fields; /* borrowed during expr_compile only */
    size_t nfields;
    /* Index of the JSON field that holds undeclared keys (Milvus "$meta",
     * enable_dynamic_field), or -1. When set, a name not in the schema means
     * $meta["name"], and `$meta` names that field. */
    int dynamic_field;
};

/* ---- row access ------------------------------------------------------- */

enum expr_vkind {
    EXPR_V_NULL = 0,  /* SQL NULL (any field) */
    EXPR_V_BOOL,      /* BOOL */
    EXPR_V_INT,       /* INT8..INT64 (also accepted for FLOAT/DOUBLE) */
    EXPR_V_DOUBLE,    /* FLOAT (the float32 value widened), DOUBLE */
    EXPR_V_STRING,    /* VARCHAR: bytes, not NUL-terminated */
    EXPR_V_JSON,      /* JSON (or ARRAY as a JSON array): a parsed cJSON tree */
    EXPR_V_JSON_TEXT, /* JSON (or ARRAY): JSON text, parsed by the evaluator */
    EXPR_V_ARRAY,     /* ARRAY: a C array, element layout by elem_type below */
};

struct expr_str {
    const char *ptr;
    size_t len;
};

/* What the row accessor returns for one field. Pointers are borrowed and
 * must stay valid until the expr_eval call that asked for them returns.
 * EXPR_V_ARRAY items: BOOL -> const bool[n], INT8..INT64 -> const int64_t[n],
 * FLOAT/DOUBLE -> const double[n], VARCHAR -> const struct expr_str[n]. */
struct expr_value {
    enum expr_vkind kind;
    union {
        bool b;
        int64_t i;
        double d;
        struct expr_str s;          /* STRING, JSON_TEXT */
        const struct cJSON *json;   /* JSON */
        struct {
            const void *items;
            size_t n;
        } arr;                      /* ARRAY */
    } u;
};

struct expr_row_access {
    /* Fill *out with field `field` (index into the schema) of `row`. Called
     * at most once per field per expr_eval. Return PXS_OK, or a negative
     * PXS_E* code (recorded in err) to stop the evaluation with that code. */
    int (*get)(void *user, size_t field, uint64_t row, struct expr_value *out,
               struct pxs_err *err);
    void *user;
};

/* ---- compile / evaluate ----------------------------------------------- */

struct expr; /* opaque, immutable once compiled */

/* Parse text (len bytes, or up to the NUL if len == SIZE_MAX) and bind it
 * to schema. *out: caller frees with expr_free. PXS_EINVAL for syntax and
 * type errors, PXS_ELIMIT for the limits above, PXS_ENOMEM. */
int expr_compile(const char *text, size_t len, const struct expr_schema *schema,
                 struct expr **out, struct pxs_err *err) PXS_MUST_CHECK;
/* NULL is a no-op. */
void expr_free(struct expr *e);

/* Evaluate on one row: *match = the expression is true for the row.
 * Errors come only from the accessor (its code), from a value of the wrong
 * kind for the field's type (PXS_EINVAL) and from JSON text that does not
 * parse (PXS_ECORRUPT). Parsing JSON text (EXPR_V_JSON_TEXT) allocates. */
int expr_eval(const struct expr *e, const struct expr_row_access *access, uint64_t row,
              bool *match, struct pxs_err *err) PXS_MUST_CHECK;
/* Evaluate rows[0..n): bit i of bits (bits[i / 8] >> (i % 8) & 1) is set
 * when rows[i] matches. bits must hold (n + 7) / 8 bytes; it is overwritten.
 * Stops at the first error. */
int expr_eval_rows(const struct expr *e, const struct expr_row_access *access,
                   const uint64_t *rows, size_t n, uint8_t *bits,
                   struct pxs_err *err) PXS_MUST_CHECK;

/* True if the expression folded to a constant (no field is read); *value
 * gets it. Lets the engine skip filtering (true) or the search (false). */
bool expr_is_constant(const struct expr *e, bool *value);
/* Whether the expression reads schema field `field`. */
bool expr_reads_field(const struct expr *e, size_t field);

/* Append the bound, folded expression in a canonical, fully parenthesised
 * form that compiles back to the same form (for logs and tests), e.g.
 * "((price * 2) > 100)"; dynamic fields print as $meta["key"]. */
int expr_to_string(const struct expr *e, struct pxs_buf *out) PXS_MUST_CHECK;

/* ---- internals shared by expr.c and expr_eval.c (define EXPR_INTERNALS) */
#ifdef EXPR_INTERNALS

/* Static types the binder assigns to every node. */
enum xtype {
    T_BOOL = 1,
    T_INT,
    T_FLOAT,
    T_STRING,
    T_JSON,  /* a JSON value: its type is known only per row */
    T_NUM,   /* arithmetic involving JSON: int or float per row */
    T_ARRAY, /* an ARRAY field, elements of etype */
    T_LIST,  /* a constant list [..] */
};

enum ckind { C_BOOL = 1, C_INT, C_DBL, C_STR, C_LIST };

/* A constant (literal or folded). */
struct cval {
    uint8_t k; /* enum ckind */
    union {
        bool b;
        int64_t i;
        double d;
        struct expr_str s;
        struct {
            struct cval *items;
            size_t n;
        } list;
    } u;
};

enum nkind {
    N_CONST = 1,
    N_NAME,   /* unresolved identifier (parser output) */
    N_FIELD,  /* resolved field (+ path) */
    N_LIST,   /* array literal before folding */
    N_NEG,
    N_ARITH,  /* op: OP_ADD..OP_POW */
    N_CMP,    /* op: OP_EQ..OP_GE */
    N_RANGE,  /* kids lo, mid, hi; op, op2 */
    N_IN,     /* kids value, list constant */
    N_LIKE,   /* kid value; pattern in pat */
    N_ISNULL, /* kid field; F_NEGATE for is not null */
    N_NOT,
    N_AND,
    N_OR,
    N_CALL, /* op: FN_* */
};

enum xop {
    OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_POW,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
};

enum xfn {
    FN_JSON_CONTAINS = 1, FN_JSON_CONTAINS_ALL, FN_JSON_CONTAINS_ANY,
    FN_ARRAY_CONTAINS, FN_ARRAY_CONTAINS_ALL, FN_ARRAY_CONTAINS_ANY,
    FN_ARRAY_LENGTH,
};

/* node flags */
#define F_NEGATE 0x01     /* N_ISNULL: is not null */
#define F_F32 0x02        /* compare as float32 (FLOAT field vs constant) */
#define F_SORTED 0x04     /* N_IN: list sorted, all C_INT or all C_STR */
#define F_F32FIELD 0x08   /* N_FIELD: a float32 value */
#define F_META 0x10       /* N_NAME: was "$meta"; N_FIELD: dynamic field */
#define F_INTMIN 0x20     /* N_CONST: literal 9223372036854775808 awaiting '-' */

struct pcomp {
    struct expr_str key; /* the key, or the index in decimal */
    bool is_index;       /* written as [N] */
};

struct node {
    uint8_t kind, op, op2, type, etype, flags;
    uint16_t height;
    uint32_t pos; /* byte offset of the operator or operand */
    union {
        struct cval c;
        struct {
            struct expr_str name; /* N_NAME */
            struct pcomp *path;
            size_t npath;
            uint32_t slot; /* N_FIELD */
        } f;
        struct {
            struct node **k;
            uint32_t n, cap;
            struct expr_str pat; /* N_LIKE */
        } kids;
    } u;
};

struct xchunk;
struct xarena {
    struct xchunk *head;
    size_t total;
    bool limit_hit;
};

struct xslot {
    size_t field;
    const char *name;
    uint8_t ftype, etype; /* enum expr_ftype */
    bool used;            /* still read after constant folding */
};

struct expr {
    struct xarena arena;
    struct node *root;
    size_t nslots;
    bool reads_rows; /* some slot is used */
    struct xslot slots[EXPR_MAX_FIELDS];
};

/* Runtime values. */
enum rvkind {
    RV_NULL = 0, /* SQL NULL: predicates on it are unknown */
    RV_MISSING,  /* JSON path missing / no value: compares false, != true */
    RV_JNULL,    /* JSON null */
    RV_BOOL, RV_INT, RV_DBL, RV_STR,
    RV_JSON, /* JSON array or object */
    RV_ARR,  /* typed ARRAY field value */
    RV_LIST, /* constant list */
};

struct rv {
    uint8_t k;
    uint8_t et; /* RV_ARR element type (enum expr_ftype) */
    union {
        bool b;
        int64_t i;
        double d;
        struct expr_str s;
        const struct cJSON *j;
        struct {
            const void *items;
            size_t n;
        } a;
        struct {
            const struct cval *items;
            size_t n;
        } l;
    } u;
};

enum { TRI_F = 0, TRI_T = 1, TRI_U = 2 };
enum { CMP_LT = -1, CMP_EQ = 0, CMP_GT = 1, CMP_NE = 2 /* unequal, unordered */, CMP_NA = 3 };

struct xevslot {
    bool fetched;
    struct expr_value v;
    struct cJSON *owned; /* parsed from EXPR_V_JSON_TEXT */
};

struct xeval {
    const struct expr *e;
    const struct expr_row_access *acc; /* NULL while constant folding */
    uint64_t row;
    struct pxs_err *err;
    int rc;
    struct xevslot slots[EXPR_MAX_FIELDS];
};

int expr_i_pred(struct xeval *x, const struct node *n);
void expr_i_val(struct xeval *x, const struct node *n, struct rv *out);
void expr_i_release(struct xeval *x);
void expr_i_cval_to_rv(const struct cval *c, struct rv *out);
int expr_i_cmp(const struct rv *a, const struct rv *b, bool f32);
bool expr_i_like(const char *s, size_t n, const char *p, size_t m);

#endif /* EXPR_INTERNALS */

#endif
