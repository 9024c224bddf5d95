declare module 'glossy' {
  interface GlossyMessage {
    originalMessage: string;
    prival?: number;
    type?: 'RFC3164' | 'RFC5424';
    host?: string | null;
    appName?: string | null;
    pid?: string | null;
    message?: string;
  }
  export const Parse: { parse(message: string): GlossyMessage };
}
