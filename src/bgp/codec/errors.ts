// A decoding or protocol error that must be answered with a NOTIFICATION carrying these codes.
import { notificationName } from './constants.ts';

export class BgpError extends Error {
  readonly code: number;
  readonly subcode: number;
  readonly data: Buffer;

  constructor(code: number, subcode: number, message: string, data: Buffer = Buffer.alloc(0)) {
    super(`${message} [${notificationName(code, subcode)}]`);
    this.name = 'BgpError';
    this.code = code;
    this.subcode = subcode;
    this.data = data;
  }
}
