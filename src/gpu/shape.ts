/** A tensor's or a kernel operand's dimensions, outermost first. Defined here so kernel launchers need no tensors. */
export type Shape = readonly number[];
