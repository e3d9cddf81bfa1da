/**
 * Errors raised by vipllava. Each message is one line that names the thing at fault (a config field, a file
 * and tensor, an input), so a CLI can print it as is.
 */
export class VipLlavaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A config.json value that is missing, malformed or unsupported. */
export class ConfigError extends VipLlavaError {}

/** A weights file that is corrupt, truncated, or does not match the config. */
export class WeightsError extends VipLlavaError {}

/** A checkpoint that cannot be found locally, in the Hugging Face cache or on the hub. */
export class HubError extends VipLlavaError {}

/** Bad arguments to a model call: wrong shapes, dtypes, or image/token counts. */
export class InputError extends VipLlavaError {}
