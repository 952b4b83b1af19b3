"""The Jinja2 environment, and one escaping filter per place a model's text lands in C.

A model's strings (node names, its file name) are arbitrary Unicode: quotes, backslashes, newlines,
`*/`, trigraphs (`??/` is a backslash under -std=c99). Each C context has one filter that makes any
text safe there, and templates use nothing else for model text:
  c_comment  text inside /* */ (and inside a one-line comment): one line, no comment delimiters,
             no trigraphs, no line splice at its end;
  c_string   the contents of a "..." literal, which the compiled program reads back byte for byte;
  c_ident    an identifier made from any text, never a reserved one.
HTML gets Jinja's own `e`. `identifier_problem` and `prefix_problem` say why a name the user
chose (`build --name`) cannot be used as it is, so the CLI refuses it instead of mangling it.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata

import jinja2
import numpy as np

from ..resources import templates_dir

# C99, C11 and C23 keywords (C23's were macros before), then C++'s: model.h is usable from C++.
C_KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if inline int long
    register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while
    _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local
    alignas alignof bool constexpr false nullptr static_assert thread_local true typeof typeof_unqual
""".split())
CXX_KEYWORDS = frozenset("""
    and and_eq asm bitand bitor catch char8_t char16_t char32_t class compl concept const_cast consteval
    constinit co_await co_return co_yield decltype delete dynamic_cast explicit export friend mutable namespace
    new noexcept not not_eq operator or or_eq private protected public reinterpret_cast requires static_cast
    template this throw try typeid typename using virtual wchar_t xor xor_eq
""".split())
# What a generated project links against besides the model: libc, libm and the newlib syscalls,
# standard types and macros.
LIBC_NAMES = frozenset("""
    main abort atexit exit _Exit quick_exit abs labs llabs div ldiv atoi atol atof strtol strtoul strtoll
    strtoull strtod strtof malloc calloc realloc free aligned_alloc qsort bsearch rand srand getenv system
    printf fprintf sprintf snprintf vprintf vfprintf vsprintf vsnprintf scanf fscanf sscanf puts fputs putc
    putchar fputc getc getchar fgetc fgets gets ungetc fopen freopen fclose fflush fread fwrite fseek ftell
    rewind fgetpos fsetpos feof ferror clearerr perror remove rename tmpfile tmpnam setbuf setvbuf
    memcpy memmove memset memcmp memchr strlen strcmp strncmp strcpy strncpy strcat strncat strchr strrchr
    strstr strtok strspn strcspn strpbrk strerror strcoll strxfrm
    round roundf lround lroundf lrint lrintf rint rintf floor floorf ceil ceilf trunc truncf sqrt sqrtf exp
    expf exp2 exp2f log logf log2 log2f log10 pow powf fabs fabsf fmin fminf fmax fmaxf fmod fmodf frexp
    ldexp ldexpf modf sin cos tan tanh tanhf atan atan2
    read write open close lseek stat fstat isatty sbrk kill getpid link unlink times gettimeofday
    time clock signal raise setjmp longjmp errno assert offsetof va_list va_start va_end va_arg
    stdin stdout stderr environ NULL EOF FILE size_t ptrdiff_t intptr_t uintptr_t intmax_t uintmax_t
    int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t
    INT8_MIN INT8_MAX INT16_MIN INT16_MAX INT32_MIN INT32_MAX INT64_MIN INT64_MAX UINT8_MAX UINT16_MAX
    UINT32_MAX UINT64_MAX SIZE_MAX INFINITY NAN HUGE_VAL
""".split())
# What it defines at file scope besides the model: every such name of templates/firmware/*.j2,
# templates/host/main.c.j2 and model.c.j2 (tests/test_c_strings.py checks the list against them).
TEMPLATE_NAMES = frozenset("""
    Reset_Handler Fault_Handler Default_Handler SysTick_Handler vector_table put_hex
    put put_u64 put_padded counter_start counter_now counter_units per_inference print_profile length
    put_name open_file read_input split input_tensor output_tensor systick_wraps cyccnt_last cyccnt_high
    layer_total layer_start CHUNK COUNTER_UNIT SYST_CSR SYST_RVR SYST_CVR DEMCR DWT_CTRL DWT_CYCCNT DWT_LAR
    SEMIHOSTING_H read_file run_all run_model mode INT8_CORE FLOAT_INPUT MODEL_INTERFACE arena
    INVOKE_BEGIN INVOKE_END MARK now_ns layer_ns invoke_ns layer_started invoke_started COLD divide
""".split())
# Prefixes of the runtime (mcu_nn.h), the firmware's semihosting calls and CMSIS-NN, in either case.
RESERVED_PREFIXES = {"mcu_": "the runtime's prefix mcu_", "sh_": "the firmware's semihosting prefix sh_",
                     "arm_": "CMSIS-NN's prefix arm_"}
MAX_IDENTIFIER = 63  # C99 guarantees 63 significant initial characters for internal identifiers

# `--name` is also a file name (<name>.c, <name>.h on the include path, a make and a CMake target)
# and the prefix of every API name: these may not be taken even in another case.
HEADER_NAMES = frozenset("""
    assert complex ctype errno fenv float inttypes iso646 limits locale math setjmp signal stdalign stdarg
    stdatomic stdbool stddef stdint stdio stdlib stdnoreturn string tgmath threads time uchar wchar wctype
    semihosting
""".split())  # the C standard headers (-I. puts <name>.h before them) and the firmware's own
# Names the build files take for themselves: CMake's reserved targets, and `m` (the -lm they link).
BUILD_NAMES = frozenset("all clean help install package package_source test edit_cache rebuild_cache "
                        "preinstall list_install_components m".split())
# The longest suffix the generated API adds (`_dequantize_output`, `_l<index>_...` arrays) stays
# within MAX_IDENTIFIER after a prefix this long.
MAX_PREFIX = 32


def identifier_problem(text: str) -> str | None:
    """Why `text` cannot be a file-scope C identifier of generated code, or None."""
    if not text:
        return "empty"
    bad = sorted(set(re.sub(r"[A-Za-z0-9_]", "", text)))
    if bad:
        return f"not a C identifier (letters, digits and _ only; has {''.join(bad)!r})"
    if text[0].isdigit():
        return "starts with a digit"
    if text[0] == "_":
        return "starts with _ (reserved at file scope in C)"
    if "__" in text:
        return "contains __ (reserved in C++)"
    if len(text) > MAX_IDENTIFIER:
        return f"{len(text)} characters, more than the {MAX_IDENTIFIER} that C99 compilers must tell apart"
    return _reservation(text)


def _reservation(ident: str) -> str | None:
    if ident in C_KEYWORDS:
        return "reserved (a C keyword)"
    if ident in CXX_KEYWORDS:
        return "reserved (a C++ keyword; the model header is usable from C++)"
    if ident in LIBC_NAMES:
        return f"reserved (libc's {ident})"
    if ident in TEMPLATE_NAMES:
        return f"reserved (the generated runner's {ident})"
    for prefix, what in RESERVED_PREFIXES.items():
        if ident.lower().startswith(prefix):
            return f"reserved ({what})"
    return None


def prefix_problem(name: str) -> str | None:
    """Why `name` cannot be the generated API's prefix and file name (`build --name`), or None."""
    problem = identifier_problem(name)
    if problem:
        return problem
    if len(name) > MAX_PREFIX:
        return (f"{len(name)} characters; at most {MAX_PREFIX}, so that every generated name stays within "
                f"{MAX_IDENTIFIER}")
    lower = name.lower()
    if lower in HEADER_NAMES:
        return f"reserved ({name}.h would hide the header {lower}.h that the generated code includes)"
    if lower in BUILD_NAMES:
        return f"reserved ({lower}: a name the generated Makefile or CMakeLists.txt already uses)"
    if lower == "main":
        return f"reserved ({name}.c and the runner's main.c are one file on a case-insensitive file system)"
    return None


def c_ident(text: str) -> str:
    """A C identifier made from any text ('/features/0/Conv' -> 'features_0_Conv'), never a reserved one.

    A usable identifier comes back as it is. Otherwise other characters become one `_` per run; a
    name that starts with a digit gets `n` in front, a reserved one `m_`; names over 63 characters
    keep their start and a hash of the whole text, so different long names stay different.
    Different texts can still give one identifier ('a/b', 'a_b'): callers that need distinct
    names add an index."""
    text = str(text)
    if identifier_problem(text) is None:
        return text
    ident = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_") or "x"
    if ident[0].isdigit():
        ident = "n" + ident
    if _reservation(ident):
        ident = "m_" + ident
    if len(ident) > MAX_IDENTIFIER:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        ident = ident[:MAX_IDENTIFIER - 9].rstrip("_") + "_" + digest
    return ident


def _printable(ch: str) -> bool:
    # Control and format characters (bidi overrides, which gcc's -Wbidi-chars reports) and line or
    # paragraph separators are not shown as themselves.
    return unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp")


def c_comment(text: str) -> str:
    """Any text as one line safe inside /* */ or after //.

    Control characters become spaces, `*/` and `/*` get a space between their characters, `??` too
    (no trigraph survives), and a backslash at the end gets a `.` after it, since a trailing
    backslash (even before spaces) splices the next line into a // comment or a Makefile comment."""
    text = "".join(ch if _printable(ch) else " " for ch in str(text))
    text = re.sub(r"(?<=\*)(?=/)|(?<=/)(?=\*)|(?<=\?)(?=\?)", " ", text).rstrip()
    return text + "." if text.endswith("\\") else text


def c_string(text: str) -> str:
    """The contents of a C string literal that holds exactly the UTF-8 bytes of `text`.

    Printable ASCII stands for itself except `\\`, `"` and `?` (escaped, so no trigraph forms);
    every other byte is a three-digit octal escape, which, unlike `\\x`, cannot swallow a digit
    that follows it."""
    out = []
    for byte in str(text).encode("utf-8", "surrogatepass"):
        ch = chr(byte)
        if ch in '\\"?':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return "".join(out)


def c_array(data: np.ndarray, per_line: int = 24, indent: str = "    ") -> str:
    """The body of a C initializer: decimal values, a fixed number per line."""
    flat = np.asarray(data).reshape(-1)
    if flat.dtype.kind == "f":
        items = [repr(float(np.float32(v))) + "f" for v in flat]
    else:
        # INT32_MIN cannot be written as a plain literal in C.
        items = [str(int(v)) if int(v) != -(1 << 31) else "(-2147483647 - 1)" for v in flat]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n".join(indent + line for line in lines)


def c_float(value: float) -> str:
    """A float literal that reads back as exactly the same float32."""
    return f"{float(np.float32(value))!r}f"


def make_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(c_ident=c_ident, c_array=c_array, c_float=c_float, c_comment=c_comment, c_string=c_string)
    return env
