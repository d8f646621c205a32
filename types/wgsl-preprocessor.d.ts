// wgsl-preprocessor ships no types and no package entry point (import its file): a template tag resolving
// #if/#elif/#else/#endif on interpolated booleans.
declare module 'wgsl-preprocessor/wgsl-preprocessor.js' {
  export function wgsl(strings: TemplateStringsArray, ...values: unknown[]): string;
}
