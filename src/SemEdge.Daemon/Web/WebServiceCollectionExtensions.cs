using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SemEdge.Pipeline;

namespace SemEdge.Web;

public static class WebServiceCollectionExtensions
{
    /// <summary>
    /// The page's options (always validated, so a wrong Web section is reported even while off) and, when
    /// <c>Web:Enabled</c>, the page itself with its two hooks into the pipeline: an <see cref="IVerdictObserver"/> (the verdicts) and an
    /// <see cref="IModelInputObserver"/> (the model input of the last images, the live thumbnails).
    /// </summary>
    public static IServiceCollection AddWebPage(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(WebOptions.SectionName);
        services.AddOptions<WebOptions>().Bind(section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WebOptions>, WebOptionsValidator>());
        if (!section.GetValue<bool>(nameof(WebOptions.Enabled)))
        {
            return services;
        }

        services.AddSingleton(sp => new ThumbnailRing(sp.GetRequiredService<IOptions<WebOptions>>().Value.LiveThumbnails));
        services.AddSingleton<IModelInputObserver>(sp => sp.GetRequiredService<ThumbnailRing>());
        services.AddSingleton<WebState>();
        services.AddSingleton<IVerdictObserver>(sp => sp.GetRequiredService<WebState>().Feed);
        services.AddSingleton<WebPage>();
        services.AddHostedService(sp => sp.GetRequiredService<WebPage>());
        return services;
    }
}
