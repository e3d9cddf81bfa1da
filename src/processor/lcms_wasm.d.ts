/** The part of lcms-wasm (LittleCMS compiled to WebAssembly; the package ships no types) that lab_to_rgb uses. */
declare module 'lcms-wasm' {
  export interface Lcms {
    cmsCreateLab4Profile(whitePoint: null): number;
    cmsCreate_sRGBProfile(): number;
    cmsCreateTransform(input: number, inFormat: number, output: number, outFormat: number, intent: number, flags: number): number;
    cmsDoTransform(transform: number, input: Uint8Array, pixels: number): Uint8Array;
  }
  export function instantiate(): Promise<Lcms>;
}
