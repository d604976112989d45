import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'kagi:isPublic';
/** Marks a route as reachable without a token. The route-walk test lists every one of them. */
export const Public = () => SetMetadata(IS_PUBLIC, true);
