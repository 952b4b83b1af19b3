/*
 * mcu_inline.h - MCU_ALWAYS_INLINE, for the loop bodies that several reference kernels share
 * (mcu_conv_ref.h, mcu_pwconv_ref.h, mcu_fc_ref.h, mcu_avgpool_ref.h).
 * Private to the runtime: not part of the public interface in mcu_nn.h.
 *
 * Why force it: each shared body is called once, from a thin public wrapper that passes a
 * constant (filter offset 0, a rounding). GCC's early inliner leaves a body that large alone and
 * inlines it only later, after the body was optimised on its own; the register allocation that
 * results spills a loop bound inside the inner loop (arm-none-eabi-gcc 12 -O2, Cortex-M7:
 * mcu_pwconv_s8_ref executed up to 15% more instructions). Inlined early, the wrapper compiles to the
 * same code as the loops written out in it. Other compilers get plain static inline.
 */
#ifndef MCU_INLINE_H
#define MCU_INLINE_H

#if defined(__GNUC__)
#define MCU_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define MCU_ALWAYS_INLINE static inline
#endif

#endif /* MCU_INLINE_H */
