//go:build amd64 && !purego

#include "textflag.h"

// FOLD128 folds lane x over 128 bytes and adds the next 16 bytes of input
// at off(SI): x = x.lo·K.lo ⊕ x.hi·K.hi ⊕ in, with K in X15.
#define FOLD128(x, off) \
	MOVOU     x, X8; \
	PCLMULQDQ $0x00, X15, x; \
	PCLMULQDQ $0x11, X15, X8; \
	MOVOU     off(SI), X9; \
	PXOR      X8, x; \
	PXOR      X9, x

// FOLD16 folds lane x over 16 bytes into lane y: y ⊕= x.lo·K.lo ⊕ x.hi·K.hi.
#define FOLD16(x, y) \
	MOVOU     x, X8; \
	PCLMULQDQ $0x00, X15, x; \
	PCLMULQDQ $0x11, X15, X8; \
	PXOR      x, y; \
	PXOR      X8, y

// func crcFold(r uint64, p []byte, k *[4]uint64) (lo, hi uint64)
TEXT ·crcFold(SB), NOSPLIT, $0-56
	MOVQ  r+0(FP), AX
	MOVQ  p_base+8(FP), SI
	MOVQ  p_len+16(FP), CX
	MOVQ  k+32(FP), DX

	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	MOVOU 64(SI), X4
	MOVOU 80(SI), X5
	MOVOU 96(SI), X6
	MOVOU 112(SI), X7
	MOVQ  AX, X8
	PXOR  X8, X0
	MOVOU 0(DX), X15
	ADDQ  $128, SI
	SUBQ  $128, CX

loop:
	CMPQ CX, $128
	JB   reduce
	FOLD128(X0, 0)
	FOLD128(X1, 16)
	FOLD128(X2, 32)
	FOLD128(X3, 48)
	FOLD128(X4, 64)
	FOLD128(X5, 80)
	FOLD128(X6, 96)
	FOLD128(X7, 112)
	ADDQ $128, SI
	SUBQ $128, CX
	JMP  loop

reduce:
	MOVOU 16(DX), X15
	FOLD16(X0, X1)
	FOLD16(X1, X2)
	FOLD16(X2, X3)
	FOLD16(X3, X4)
	FOLD16(X4, X5)
	FOLD16(X5, X6)
	FOLD16(X6, X7)
	MOVQ   X7, lo+40(FP)
	PSRLDQ $8, X7
	MOVQ   X7, hi+48(FP)
	RET
