/** Errors as the two APIs report them: a status, and OpenAI's { error: { message, type, param, code } } or Ollama's { error }. */
import { InputError, VipLlavaError } from '../index.node.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Seconds a client should wait before retrying (503). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }

  /** OpenAI's error type for the status. */
  get type(): string {
    if (this.status === 401) return 'authentication_error';
    if (this.status === 404) return 'not_found_error';
    if (this.status === 429 || this.status === 503) return 'server_overloaded';
    return this.status >= 500 ? 'server_error' : 'invalid_request_error';
  }
}

/** Any error as an ApiError: the library's input errors are the client's (400), anything else the server's (500). */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const f = e as { validation?: unknown; statusCode?: number; message?: string; code?: string };
  if (f.validation) return new ApiError(400, f.message ?? 'invalid request', null, 'invalid_request');
  if (typeof f.statusCode === 'number' && f.statusCode >= 400 && f.statusCode < 500) return new ApiError(f.statusCode, f.message ?? 'bad request', null, f.code ?? null);
  if (e instanceof InputError) return new ApiError(400, e.message, null, 'invalid_request');
  if (e instanceof VipLlavaError) return new ApiError(500, e.message, null, 'model_error');
  return new ApiError(500, 'internal server error', null, 'internal_error');
}

export const openaiError = (e: ApiError) => ({ error: { message: e.message, type: e.type, param: e.param, code: e.code } });
export const ollamaError = (e: ApiError) => ({ error: e.message });
